"""Client.status: the daemon's figures as our dict, read also through
upstream's InstanceStatus attribute names."""

# upstream attribute -> (our key, value when the key is absent)
_UPSTREAM = {
    "instance_id": ("cluster_instance", 0),
    "deployment": ("cluster", None),
    "memory_usage": ("used_bytes", 0),
    "memory_limit": ("limit_bytes", 0),
    "deferred_requests": (None, 0),
    "ipc_connections": ("clients", 0),
    "rpc_connections": (None, 0),
}


class Status(dict):
    """The daemon's figures: ``status['used_bytes']`` (ours, as
    vineyardctl status --json prints them) and ``status.memory_usage``
    (upstream's InstanceStatus names). instance_id is the daemon's
    instance in its cluster (vineyardd --etcd; 0 outside one), deployment
    'distributed' in a cluster and 'local' otherwise."""

    def __getattr__(self, attr):
        try:
            key, default = _UPSTREAM[attr]
        except KeyError:
            raise AttributeError(attr) from None
        if attr == "deployment":
            return "distributed" if self.get("cluster") else "local"
        v = self.get(key, default) if key else default
        return default if v is None else v

    def __call__(self):
        # client.status() (ours, a call) and client.status (upstream's, a
        # property) both work.
        return self

    def __str__(self):
        return "InstanceStatus:\n" + "\n".join(
            "    %s: %s" % (k, getattr(self, k)) for k in _UPSTREAM)
