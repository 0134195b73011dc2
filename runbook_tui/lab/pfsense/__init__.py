"""The lab's pfSense: a FreeBSD file tree, its login shell's commands, HAProxy, pf and PHP.

Everything here is about the firewall alone, and the backup host reads its config.xml format
too; what pfSense shares with the cluster (node addresses, NodePorts, the running HAProxy and
pf rules) is the lab-wide ``LabState`` one level up.

- ``host``: ``PfSense``, the file tree and the commands runbooks type on it.
- ``config_xml``: ``/cf/conf/config.xml`` rendered from and parsed into the lab's model.
- ``haproxy``: the generated haproxy.cfg and the runtime API's replies.
- ``php_cmd``: ``php`` on the firewall: real php-cli over ``pfsense_stub/`` (a stand-in for
  pfSense's config API), ``config_array`` carrying config.xml to and from PHP's ``$config``.
- ``php_recognise`` and ``php``: the fallback without php-cli, which checks a script's syntax
  and reads what it declares.
"""
