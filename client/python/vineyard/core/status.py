"""Client.status: the daemon's figures as our dict, read also through
upstream's InstanceStatus attribute names."""

# upstream attribute -> (our key, value when the key is absent)
_UPSTREAM = {
    "instance_id": (None, 0),
    "deployment": (None, "local"),
    "memory_usage": ("used_bytes", 0),
    "memory_limit": ("limit_bytes", 0),
    "deferred_requests": (None, 0),
    "ipc_connections": ("clients", 0),
    "rpc_connections": (None, 0),
}


class Status(dict):
    """The daemon's figures: ``status['used_bytes']`` (ours, as
    vineyardctl status --json prints them) and ``status.memory_usage``
    (upstream's InstanceStatus names). One daemon is instance 0 with
    deployment 'local' and no RPC connections."""

    def __getattr__(self, attr):
        try:
            key, default = _UPSTREAM[attr]
        except KeyError:
            raise AttributeError(attr) from None
        return self.get(key, default) if key else default

    def __call__(self):
        # client.status() (ours, a call) and client.status (upstream's, a
        # property) both work.
        return self

    def __str__(self):
        return "InstanceStatus:\n" + "\n".join(
            "    %s: %s" % (k, getattr(self, k)) for k in _UPSTREAM)
