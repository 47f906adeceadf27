"""Known vulnerabilities in the installed dependencies (pip-audit), failing CI on any finding.

pip-audit asks a vulnerability service (PyPI's JSON API, or OSV) about every installed package.
Where that service cannot be reached, every package comes back "could not be audited" and
pip-audit still exits 0; this says so plainly instead of passing silently. Findings fail.
"""

import json
import subprocess
import sys


def main() -> int:
    run = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit gave no report (exit {run.returncode}):\n{run.stderr[-2000:]}")
        return 1
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    findings = [(d["name"], d["version"], v["id"]) for d in audited for v in d.get("vulns", [])]
    for name, version, vuln in findings:
        print(f"VULNERABLE: {name} {version}: {vuln}")
    if findings:
        return 1
    if not audited:
        print(
            f"SKIPPED: none of {len(dependencies)} packages could be audited; the vulnerability "
            "service is unreachable from here (first reason: "
            f"{dependencies[0]['skip_reason'] if dependencies else 'none'})"
        )
        return 0
    print(f"pip-audit: {len(audited)} packages audited, no known vulnerability")
    skipped = len(dependencies) - len(audited)
    if skipped:
        print(f"({skipped} packages not found on the service, e.g. local builds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
