"""Words that reach templates as data (roles, task kinds and statuses, categories, severities...), marked with
``N_`` so the catalog extraction (``scripts/i18n``) finds them; templates translate them with ``_(value)``."""

from __future__ import annotations


def N_(text: str) -> str:
    """Mark ``text`` for translation without translating it here."""
    return text


ROLES = [N_("admin"), N_("operator"), N_("viewer")]
TASK_KINDS = {"scan": N_("Image scan"), "sync": N_("Asset sync"), "runtime-scan": N_("Runtime image scan"),
              "fix": N_("Risk fix"), "cluster-sync": N_("Cluster sync"), "rematch": N_("Re-match"),
              "dbupdate": N_("Vulnerability DB update")}
STATUSES = [N_("pending"), N_("running"), N_("succeeded"), N_("partially failed"), N_("failed"), N_("stopped"),
            N_("not scanned"), N_("open"), N_("handled"), N_("ignored")]
CATEGORIES = {"vulnerability": N_("Vulnerabilities"), "baseline": N_("Baseline"), "malicious": N_("Malicious samples"),
              "sensitive": N_("Sensitive files"), "history": N_("Build-command risks")}
SEVERITIES = [N_("CRITICAL"), N_("HIGH"), N_("MEDIUM"), N_("LOW"), N_("NEGLIGIBLE"), N_("UNKNOWN")]
FIX_STATUSES = {"fixed": N_("fix available"), "affected": N_("no fix yet"), "will_not_fix": N_("will not fix"),
                "end_of_life": N_("end of life"), "unknown": N_("unknown")}
TRIGGERS = [N_("manual"), N_("schedule"), N_("webhook"), N_("harbor"), N_("first-start")]
REGISTRY_TYPES = {"harbor": "Harbor", "quay": "Quay", "gitlab": "GitLab", "registry": N_("Docker Registry (v2)")}
NETWORK_TYPES = {"public": N_("Public network"), "private": N_("Private network"), "vpc": N_("VPC")}
WHITELIST_KINDS = {"vulnerability": N_("Vulnerability"), "sensitive": N_("Sensitive file"),
                   "history": N_("Build command"), "malicious": N_("Malicious sample")}
SCOPES = {"all": N_("All repositories"), "repositories": N_("Chosen repositories"), "images": N_("Chosen images")}
#: API error codes shown on forms, with a clear sentence each
ERROR_CODES = {
    "FailedToVerifyUsernameOrPwd": N_("FailedToVerifyUsernameOrPwd: the registry refused the username or password."),
    "RegistryVersionError": N_("RegistryVersionError: the registry's type or API version does not match what it answers."),
    "UserDoesNotHaveAdminRole": N_("UserDoesNotHaveAdminRole: this account is not an administrator of the registry."),
    "NetworkConnectError": N_("NetworkConnectError: the registry can't be reached (address, port, protocol, firewall)."),
}
