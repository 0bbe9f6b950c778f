"""Closed cases from the hall's case system (办件系统): the intake shared by the API and the file import, the
reconciliation with the prompts and ratings (漏评, 参评率, 办件系统无此件, 限时办结)."""
