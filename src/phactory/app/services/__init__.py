"""The service layer: every rule, permission check and change-log entry lives here.

Routes and pages only translate between HTTP or widgets and these services.
"""
