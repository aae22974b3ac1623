"""Plain value types of the vineyard package: ObjectID, ObjectMeta (what a
builder fills in, and what Client.get_meta returns) and ObjectInfo (one row
of Client.list_objects). No C calls here."""
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

    def __new__(cls, value):
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


class ObjectMeta:
    """Metadata of an object: a typename, fields and named members.

    Builders return one: set fields with ``meta['key'] = value`` (int,
    float, bool, None, str, or a list of ints or of strs) and add members
    with ``meta.add_member(name, value)`` where value is another
    ObjectMeta, an ObjectID of a stored object, or any contiguous
    bytes-like object (bytes, a numpy array, a memoryview...), which
    becomes a new blob. ``Client.get_meta`` returns the same type, with
    ``id`` and ``nbytes`` set and members that are ObjectMeta themselves.
    """

    __slots__ = ("typename", "fields", "members", "id", "nbytes",
                 "is_blob")

    def __init__(self, typename, fields=None):
        if not isinstance(typename, str) or not typename:
            raise InvalidArgument(22, "a typename is a non-empty str")
        self.typename = typename
        self.fields = dict(fields or {})
        self.members = {}
        self.id = None
        self.nbytes = None
        self.is_blob = False

    def __setitem__(self, key, value):
        self.fields[key] = value

    def __getitem__(self, key):
        return self.fields[key]

    def __contains__(self, key):
        return key in self.fields

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def add_member(self, name, value):
        """Adds member `name`: an ObjectMeta, an ObjectID or a buffer."""
        if name in self.members:
            raise InvalidArgument(17, "member %r added twice" % (name,))
        self.members[name] = value

    def member(self, name):
        return self.members[name]

    def __repr__(self):
        head = "ObjectMeta(%r" % self.typename
        if self.id is not None:
            head += ", id=%s" % self.id
        return "%s, fields=%r, members=%r)" % (
            head, self.fields, sorted(self.members))


ObjectInfo = namedtuple("ObjectInfo", "id typename nbytes is_blob persisted "
                        "names")
ObjectInfo.__doc__ = """One object in Client.list_objects(): its id,
typename, size in bytes, whether it is a blob, whether it is persisted, and
the names bound to it (a tuple, sorted)."""
