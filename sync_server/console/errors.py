"""Errors of the console; each becomes an HTML page (or a redirect to the sign-in page), never a stack trace.

ConsoleError (ServerError)        base of the console's errors
 ├── SignInRequired (401)         no valid session: the browser is sent to the sign-in page
 ├── BadCredentials (401)         wrong username or password
 ├── RoleForbidden (403)          signed in, but this role or scope may not see or do this
 ├── CsrfRefused (403)            a form came without the session's CSRF token
 ├── NotVisible (404)             no such thing in the viewer's scope
 ├── BadInput (400)               a filter or form value is not understood
 ├── AlreadyPublished (409)       the 通报 of this period is published: a new version needs a 更正说明
 └── Throttled (429)              too many failed sign-ins: wait before trying again
"""

from __future__ import annotations

from sync_server.errors import ServerError


class ConsoleError(ServerError):
    """Base of every error the console raises on purpose."""

    status = 500
    title = "出错了"


class SignInRequired(ConsoleError):
    """No valid session: the browser goes to the sign-in page."""

    status = 401
    title = "请先登录"


class BadCredentials(ConsoleError):
    """Wrong username or password (the message never says which)."""

    status = 401
    title = "登录失败"


class RoleForbidden(ConsoleError):
    """Signed in, but this role or department scope may not see or do this."""

    status = 403
    title = "无权访问"


class CsrfRefused(ConsoleError):
    """A form came without the session's CSRF token."""

    status = 403
    title = "表单已失效"


class NotVisible(ConsoleError):
    """No such thing within the viewer's scope."""

    status = 404
    title = "未找到"


class BadInput(ConsoleError):
    """A filter or form value is not understood; ``field`` names the form field when there is one."""

    status = 400
    title = "参数有误"

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class AlreadyPublished(ConsoleError):
    """The 通报 of this period is published already; a new version needs a 更正说明 (nothing is overwritten)."""

    status = 409
    title = "通报已发布"


class Throttled(ConsoleError):
    """Too many failed sign-ins from this username or address."""

    status = 429
    title = "请稍后再试"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s
