"""How ``payments audit`` reports: one line per check, each violation under its check, a verdict last."""

from payments.service_layer.audit import CHECKS, AuditReport, Violation


def test_a_clean_ledger_reports_every_check_ok_and_passes() -> None:
    report = AuditReport(CHECKS, [])
    lines = report.lines()
    assert report.passed
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * len(CHECKS)
    assert lines[-1] == "payments audit passed"


def test_a_violation_fails_its_check_and_names_what_breaks_it() -> None:
    violation = Violation("no_negative_wallet", "alice", "balance -5")
    report = AuditReport(CHECKS, [violation])
    lines = report.lines()
    assert not report.passed
    failing = lines.index(next(line for line in lines if line.startswith("FAIL")))
    assert "no_negative_wallet" in lines[failing]
    assert lines[failing + 1].strip() == "alice: balance -5"
    assert lines[-1] == "payments audit FAILED with 1 violation(s)"


def test_every_check_has_a_distinct_name_and_a_rule() -> None:
    assert len({check.name for check in CHECKS}) == len(CHECKS)
    assert all(check.rule and check.query.strip().upper().startswith("SELECT") for check in CHECKS)
