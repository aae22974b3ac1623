"""Plain value types of the vineyard package: ObjectID, ObjectName,
ObjectMeta (what a builder fills in, and what Client.get_meta returns) and
ObjectInfo (one row of Client.list_objects). No C calls here."""
import re
from collections import namedtuple

from .errors import InvalidArgument

_ID_RE = re.compile(r"o[0-9a-f]{16}\Z")
_BLOB_BIT = 1 << 63


class ObjectID(int):
    """A 64-bit object id. Prints as ``o`` + 16 lowercase hex digits
    (``o0015c78883eddf1c``) and parses back from that text:
    ``ObjectID('o0015c78883eddf1c')``. It is an int, so it compares, hashes
    and pickles like one. Ids of blobs have the top bit set."""

    __slots__ = ()

    def __new__(cls, value=0):
        if type(value) is cls:
            return value
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str):
            s = value.strip()
            if not _ID_RE.match(s):
                raise InvalidArgument(22, "invalid object id %r: expected "
                                      "'o' and 16 lowercase hex digits, as "
                                      "in o0015c78883eddf1c" % (value,))
            return super().__new__(cls, int(s[1:], 16))
        try:
            v = int(value)
        except (TypeError, ValueError):
            raise InvalidArgument(22, "invalid object id %r: expected an "
                                  "ObjectID, an int or text such as "
                                  "o0015c78883eddf1c" % (value,)) from None
        if v < 0 or v >= 1 << 64 or isinstance(value, (bool, float)):
            raise InvalidArgument(22, "invalid object id %r" % (value,))
        return super().__new__(cls, v)

    def __repr__(self):
        return "o%016x" % int(self)

    __str__ = __repr__

    def __format__(self, spec):
        return repr(self) if not spec else int(self).__format__(spec)

    def __reduce__(self):
        return (ObjectID, (int(self),))

    @property
    def is_blob(self):
        """True when this is the id of a blob."""
        return bool(int(self) & _BLOB_BIT)


class ObjectName(str):
    """A name bound to an object (upstream's ObjectName): a str that says
    what it is. Every call taking a name takes a plain str as well."""

    __slots__ = ()

    def __repr__(self):
        return "ObjectName(%s)" % str.__repr__(self)

    @property
    def uri(self):
        return "vineyard://" + str(self)

    @staticmethod
    def from_uri(uri):
        return ObjectName(uri[len("vineyard://"):]
                          if uri.startswith("vineyard://") else uri)


# Keys of an ObjectMeta that are not fields: meta['typename'] is the
# typename, meta['nbytes'] the size, as upstream Vineyard spells them.
_SPECIAL = ("typename", "nbytes", "id", "signature", "instance_id",
            "global", "persisted")


class ObjectMeta:
    """Metadata of an object: a typename, fields and named members.

    Either way of building one works::

        meta = vineyard.ObjectMeta('my::Pair')          # ours
        meta = vineyard.ObjectMeta()                    # upstream's
        meta['typename'] = 'my::Pair'

    ``meta['key'] = value`` sets a field (int, float, bool, None, str, or a
    list of ints or of strs; anything else is kept as JSON text), except
    ``typename`` and ``nbytes``, and an ObjectMeta or Object value, which
    becomes a member. ``meta.add_member(name, value)`` takes another
    ObjectMeta, an ObjectID or Object already stored, or any contiguous
    bytes-like object (bytes, a numpy array, a memoryview...), which
    becomes a new blob. ``meta[name]`` gives a field or a member's
    ObjectMeta. ``Client.get_meta`` and ``Client.create_metadata`` return
    this type with ``id`` and ``nbytes`` set.
    """

    __slots__ = ("typename", "fields", "members", "id", "nbytes",
                 "is_blob", "_global", "_persisted", "_client", "_instance",
                 "_local")

    def __init__(self, typename=None, fields=None, global_=False, **kw):
        if isinstance(typename, bool):  # upstream: ObjectMeta(global_)
            typename, global_ = None, typename
        if typename is not None and (not isinstance(typename, str) or
                                     not typename):
            raise InvalidArgument(22, "a typename is a non-empty str")
        self.typename = typename
        self.fields = {}
        self.members = {}
        self.id = None
        self.nbytes = None
        self.is_blob = False
        self._global = bool(global_)
        self._persisted = None
        self._client = None
        self._instance = None   # the instance holding it, when known
        self._local = None      # False: it lives on another instance
        for k, v in dict(fields or {}, **kw).items():
            self[k] = v

    # ---- upstream's item interface ----

    def __setitem__(self, key, value):
        if key == "typename":
            if not isinstance(value, str) or not value:
                raise InvalidArgument(22, "a typename is a non-empty str")
            self.typename = value
        elif key == "nbytes":
            self.nbytes = int(value)
        elif key in ("id", "signature", "instance_id"):
            pass  # given by the store; setting them has no effect
        elif key == "global":
            self._global = bool(value)
        elif isinstance(value, ObjectMeta) or _is_object(value):
            self.members[key] = value
        else:
            self.fields[key] = value

    def __getitem__(self, key):
        if key == "typename":
            return self.typename
        if key == "nbytes":
            return self.nbytes if self.nbytes is not None else 0
        if key == "id" and self.id is not None:
            return repr(self.id)
        if key in self.fields:
            return self.fields[key]
        if key in self.members:
            return self.members[key]
        raise KeyError(key)

    def __contains__(self, key):
        return key in self.fields or key in self.members or \
            key in ("typename", "nbytes")

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return [k for k, _ in self.items()]

    def __iter__(self):
        return iter(self.keys())

    def items(self):
        """(key, value) pairs: typename, nbytes, id when known, every
        field, then every member (an ObjectMeta, or the ObjectID added)."""
        out = [("typename", self.typename), ("nbytes", self["nbytes"])]
        if self.id is not None:
            out.append(("id", repr(self.id)))
        out.extend(self.fields.items())
        out.extend(self.members.items())
        return out

    def add_member(self, name, value):
        """Adds member `name`: an ObjectMeta, an ObjectID or Object already
        stored, or a buffer (a new blob)."""
        if not isinstance(name, str):
            raise InvalidArgument(22, "a member name is a str")
        if name in self.members:
            raise InvalidArgument(17, "member %r added twice" % (name,))
        if _is_object(value):
            value = value.id
        self.members[name] = value

    def member(self, name):
        return self.members[name]

    def get_member(self, name):
        """The member as an Object, when this metadata came from the store
        (its blobs mapped); otherwise its ObjectMeta or ObjectID."""
        value = self.members[name]
        client = self._client
        if client is not None:
            mid = value.id if isinstance(value, ObjectMeta) else value
            if mid is not None:
                return client.get_object(mid)
        return value

    # ---- upstream's properties ----

    @property
    def signature(self):
        """Upstream's content signature; here the id (ids are never
        reused), or None before the object is created."""
        return None if self.id is None else int(self.id)

    @property
    def instance_id(self):
        """The instance of the cluster that holds the object (that of the
        daemon it came from for a local one; 0 outside a cluster)."""
        if self._instance is not None:
            return self._instance
        if self._client is not None and self._local is not False:
            return self._client.instance_id
        return 0

    @property
    def isglobal(self):
        return self._global

    @property
    def islocal(self):
        """False for an object that lives on another instance of the
        cluster (and for a global object, which lives on none)."""
        return self._local is not False

    def set_global(self, global_=True):
        """Makes Client.create_metadata create a global object: metadata
        only, published to the whole cluster, whose members (ids of
        persisted objects) may live on any instance
        (vineyard-cluster(7))."""
        self._global = bool(global_)

    @property
    def memory_usage(self):
        return self["nbytes"]

    def __repr__(self):
        head = "ObjectMeta(%r" % self.typename
        if self.id is not None:
            head += ", id=%s" % self.id
        return "%s, fields=%r, members=%r)" % (
            head, self.fields, sorted(self.members))


def _is_object(value):
    """True for an Object or Blob got from the store (duck-typed: this
    module does not import _object)."""
    return getattr(type(value), "_vineyard_object", False)


ObjectInfo = namedtuple("ObjectInfo", "id typename nbytes is_blob persisted "
                        "names")
ObjectInfo.__doc__ = """One object in Client.list_objects(): its id,
typename, size in bytes, whether it is a blob, whether it is persisted, and
the names bound to it (a tuple, sorted)."""
