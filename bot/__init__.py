"""sipgate SMS for Slack: send SMS through a company's sipgate account with ``/sms``."""
