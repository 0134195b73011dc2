"""The lab's Kubernetes side: an API server, and the mailserver cluster that lives on it.

The API server (``server`` and the modules it is made of) is generic: it knows resource types,
not mail, and the tests start it on its own with their own objects. The cluster modules put the
mailserver's objects into it and run the controllers that make them behave, mirroring what
pfSense needs into the lab-wide ``LabState``. Only this package imports aiohttp; nothing here is
imported until a lab or a test starts a server, so ``import runbook_tui.lab`` stays light.

API server: ``server`` (routing, lifecycle), ``store`` (objects, resourceVersion, watches),
``resources`` (the served types), ``selectors``, ``patch`` (the three patch formats),
``tables`` (``kubectl get`` columns), ``pods`` (``pods/log`` and ``pods/exec``).

The mailserver cluster: ``cluster`` (seed and controllers), ``mail_log`` (the container's log).
"""
