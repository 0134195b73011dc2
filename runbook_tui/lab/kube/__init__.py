"""The lab's Kubernetes side: an API server, and the mailserver cluster that lives on it.

The API server is generic: it knows resource types, not mail, and the tests start it on its
own with their own objects. The cluster modules put the mailserver's objects into it and run
the controllers that make them behave, mirroring what pfSense needs into the lab-wide
``LabState``. Only this package imports aiohttp, and nothing here is imported until a lab or a
test starts a server, so ``import runbook_tui.lab`` stays light. aiohttp stays a required
dependency all the same: rehearsing on the lab is part of every install, and the official
kubernetes client (36 and later) requires aiohttp itself, so an extra would remove nothing.

The API server, one job a module:
- ``server``: ``KubeAPIServer``, lifecycle, auth, faults, routing and reads.
- ``discovery``: ``/version``, ``/api``, ``/apis`` and the resource lists.
- ``writes``: request bodies, validation, create, the four patch types, delete options.
- ``watch``: the watch stream; ``pods``: ``pods/log`` and ``pods/exec``.
- ``store`` (objects, resourceVersion, watchers, hooks), ``resources`` (the served types),
  ``selectors``, ``patch`` (the patch formats), ``tables`` (``kubectl get`` columns),
  ``errors`` (Status objects); ``kubeconfig`` writes what clients are pointed at.

The mailserver cluster:
- ``cluster``: ``Cluster`` seeds the objects and runs the Service and MetalLB controllers.
- ``mailserver``: the objects; ``jobs``: the Job controller and the round-trip probe;
  ``container``: what exec and logs reach; ``mail_log``: docker-mailserver's log.
"""
