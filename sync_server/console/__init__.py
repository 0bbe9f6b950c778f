"""The administration console: sign-in and roles, dashboards, ratings, integrity, devices, reports and exports.

For code built on top of it (the 差评 workflow, appeals):

- ``auth.require_user(*roles)`` is THE dependency of every console route; ``AnyUser``/``AdminUser``/
  ``OverseerUser`` are ready-made ``Annotated`` forms. It returns a ``Viewer`` (username, role, department,
  ``csrf_token``) and checks the form's ``csrf_token`` on every POST. Users, sessions, roles and scope themselves
  are in ``accounts`` (server core; their SQL in ``storage/users.py``).
- ``viewer.scope`` (``accounts.Scope``) goes into every query: ``scope.window_condition(column)`` for SQL,
  ``scope.department_filter(requested)`` refuses another department, ``scope.allows_window(w)`` for one row.
- ``accounts.write_audit(conn, now, actor, action, target, detail, address)`` appends to the audit log.
- ``storage.exclusions.exclude_rating`` / ``lift_exclusion`` write ``rating_exclusions`` and keep the
  dashboard's rollup in step, in the caller's transaction.
- ``web.page(request, template, viewer, **context)`` renders a page in the console's layout.
"""
