"""The lab's pfSense: a FreeBSD file tree, its login shell's commands, HAProxy, pf and PHP.

Everything here is about the firewall alone, and the backup host reads its config.xml format
too; what pfSense shares with the cluster (node addresses, NodePorts, the running HAProxy and
pf rules) is the lab-wide ``LabState`` one level up.

- ``host``: ``PfSense``, the file tree and the commands runbooks type on it.
- ``config_xml``: ``/cf/conf/config.xml`` rendered from and parsed into the lab's model.
- ``haproxy``: the generated haproxy.cfg and the runtime API's replies.
- ``php``: enough PHP to check a script's syntax and read what it declares.
"""
