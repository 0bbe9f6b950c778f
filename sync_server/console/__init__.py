"""The administration console: sign-in and roles, dashboards, ratings, integrity, devices, reports and exports."""
