"""SSH transport: one asyncssh connection per target, opened on first use, reused by every step.

Host keys are checked against the target's known_hosts file (never disabled): an unknown key is
refused unless the operator accepted that target, a changed key is always refused. Every failure
an operator can see is one sentence (a ``TransportError`` subclass).

By concern: ``host_keys`` (known_hosts, accepting a key, the refusals), ``connect`` (one login),
``driver`` (a long-lived remote /bin/sh running command after command, on OpenSSH), ``process``
(a remote command on a channel of its own, from start to stop), ``sftp`` (upload, read_file)
and ``pool`` (``SSHPool``, which shares one connection per target among them). asyncssh itself is imported
at first use: it is slow to import.
"""

from runbook_tui.transports.ssh.pool import SSHPool, TargetStatus
from runbook_tui.transports.ssh.sftp import UploadResult

__all__ = ["SSHPool", "TargetStatus", "UploadResult"]
