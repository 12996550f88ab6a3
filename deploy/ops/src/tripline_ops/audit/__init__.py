"""The cross-service audit: the platform's invariants, checked through read-only snapshots of each database.

``audit_platform({"inventory": url, "bookings": url, "payments": url})`` returns an ``AuditReport``;
``python -m tripline_ops.audit`` (``make audit``) prints it and exits 0 when it passed, 1 on a violation, 2 when a
database cannot be read.
"""

from tripline_ops.audit.checks import INVARIANTS, audit_platform
from tripline_ops.audit.report import AuditReport, Invariant, Violation
from tripline_ops.audit.snapshot import DatabaseUnreadable
from tripline_ops.audit.standing import AuditRules

__all__ = ["INVARIANTS", "AuditReport", "AuditRules", "DatabaseUnreadable", "Invariant", "Violation", "audit_platform"]
