"""考核 and 考勤: the window clerk's yearly score from confirmed events (篇4), attendance from the terminals' sign-in,
sign-out and pause records (篇8 考勤制度), objections decided by the 考核领导小组, and the frozen year.

    rules.py        the rule table (config/assessment.toml): event kinds, points, sources, office hours, grades
    attendance.py   pure: a clerk's working days from terminal records → 迟到/早退/旷工/离岗 findings, uncertain days
    proposals.py    the server's proposals from attendance, verified attitude 差评 and 红牌 steps
    events.py       confirming (four-eyes from ``four_eyes_points``), dismissing, manual events with evidence, leave
    scores.py       scores per clerk and period, grades, closing a year (content hash), 复核 and corrections
    sheets.py       the assessment sheet per department and for the hall (XLSX/CSV)

Nothing here imports the console or the web layer; SQL lives in ``sync_server/storage/assessment.py``.
"""
