"""ctypes declarations of libvineyard (vineyard.h): the only place that
loads the library. Every wire-protocol detail stays in C; this module only
describes the C functions, and turns a negative errno plus vy_errmsg() into
a vineyard.Error subclass.

Where the library is looked for is _locate's business.
"""
import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double,
                    c_int, c_int64, c_size_t, c_uint, c_uint64, c_void_p)

from . import errors
from ._locate import LIBRARY_HINT, library_candidates

ID_STRLEN = 18


def _load():
    tried = []
    for path in library_candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("vineyard: cannot load libvineyard; tried: %s. %s" %
                      ("; ".join(tried), LIBRARY_HINT))


lib, LIBRARY_PATH = _load()
_libc = ctypes.CDLL(None)
free = _libc.free
free.argtypes = [c_void_p]
free.restype = None


class ListEntry(Structure):
    """struct vy_list_entry"""
    _fields_ = [("id", c_uint64), ("typename", c_char_p),
                ("nbytes", c_uint64), ("is_blob", c_int),
                ("persisted", c_int), ("names", POINTER(c_char_p)),
                ("nnames", c_size_t), ("stream", c_int)]


class StreamInfo(Structure):
    """struct vy_stream_info"""
    _fields_ = [("id", c_uint64), ("typename", c_char * 256),
                ("objects", c_int), ("state", c_int), ("writer", c_int),
                ("readers", c_uint64), ("appended", c_uint64),
                ("first", c_uint64), ("held", c_uint64),
                ("held_bytes", c_uint64), ("bytes", c_uint64),
                ("why", c_char * 240)]


NAME_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_uint64)
LIST_FN = CFUNCTYPE(c_int, c_void_p, POINTER(ListEntry))

P = c_void_p  # every opaque handle
_protos = {
    "vy_connect_err": (c_int, [c_char_p, POINTER(P), c_char_p, c_size_t]),
    "vy_connect_tcp": (c_int, [c_char_p, c_uint, c_char_p, POINTER(P),
                               c_char_p, c_size_t]),
    "vy_is_tcp": (c_int, [P]),
    "vy_blob_read": (c_int, [P, c_uint64, c_uint64, c_void_p, c_size_t,
                             POINTER(c_size_t)]),
    "vy_close": (None, [P]),
    "vy_errmsg": (c_char_p, [P]),
    "vy_default_socket": (c_char_p, []),
    "vy_socket_path": (c_char_p, [P]),
    "vy_version": (c_char_p, []),
    "vy_id_format": (None, [c_uint64, c_char * ID_STRLEN]),
    "vy_id_parse": (c_int, [c_char_p, POINTER(c_uint64)]),
    "vy_put_blob": (c_int, [P, c_void_p, c_size_t, POINTER(c_uint64)]),
    "vy_blob_create_many": (c_int, [P, POINTER(c_size_t), c_size_t,
                                    POINTER(P)]),
    "vy_writer_data": (c_void_p, [P]),
    "vy_writer_id": (c_uint64, [P]),
    "vy_blob_seal": (c_int, [P, P, POINTER(c_uint64)]),
    "vy_writer_size": (c_size_t, [P]),
    "vy_writer_write": (c_int, [P, c_size_t, c_void_p, c_size_t]),
    "vy_blob_abort": (None, [P, P]),
    "vy_meta_new": (P, [c_char_p]),
    "vy_meta_free": (None, [P]),
    "vy_meta_set_mode": (c_int, [P, c_uint]),
    "vy_meta_set_int": (c_int, [P, c_char_p, c_int64]),
    "vy_meta_set_double": (c_int, [P, c_char_p, c_double]),
    "vy_meta_set_bool": (c_int, [P, c_char_p, c_int]),
    "vy_meta_set_null": (c_int, [P, c_char_p]),
    "vy_meta_set_string": (c_int, [P, c_char_p, c_char_p]),
    "vy_meta_set_int_array": (c_int, [P, c_char_p, POINTER(c_int64),
                                      c_size_t]),
    "vy_meta_set_string_array": (c_int, [P, c_char_p, POINTER(c_char_p),
                                         c_size_t]),
    "vy_meta_add_member": (c_int, [P, c_char_p, c_uint64]),
    "vy_meta_add_member_writer": (c_int, [P, c_char_p, P]),
    "vy_meta_add_member_meta": (c_int, [P, c_char_p, P]),
    "vy_put_object": (c_int, [P, P, c_char_p, c_int, POINTER(c_uint64)]),
    "vy_put_global": (c_int, [P, P, POINTER(c_uint64)]),
    "vy_get": (c_int, [P, c_uint64, POINTER(P)]),
    "vy_get_by_name": (c_int, [P, c_char_p, c_int, POINTER(P)]),
    "vy_get_meta": (c_int, [P, c_uint64, POINTER(P)]),
    "vy_get_opts": (c_int, [P, c_uint64, c_char_p, c_int, c_uint,
                            POINTER(P)]),
    "vy_migrate": (c_int, [P, c_uint64, POINTER(c_uint64)]),
    "vy_object_release": (None, [P, P]),
    "vy_object_id": (c_uint64, [P]),
    "vy_object_typename": (c_char_p, [P]),
    "vy_object_is_blob": (c_int, [P]),
    "vy_object_nbytes": (c_uint64, [P]),
    "vy_object_data": (c_void_p, [P]),
    "vy_object_nmembers": (c_size_t, [P]),
    "vy_object_member_name": (c_char_p, [P, c_size_t]),
    "vy_object_member": (P, [P, c_size_t]),
    "vy_object_member_by_name": (P, [P, c_char_p]),
    "vy_object_field_int": (c_int, [P, c_char_p, POINTER(c_int64)]),
    "vy_object_field_double": (c_int, [P, c_char_p, POINTER(c_double)]),
    "vy_object_field_bool": (c_int, [P, c_char_p, POINTER(c_int)]),
    "vy_object_field_string": (c_int, [P, c_char_p, POINTER(c_char_p)]),
    "vy_object_fields_json": (c_void_p, [P]),
    "vy_name_put": (c_int, [P, c_char_p, c_uint64]),
    "vy_name_get": (c_int, [P, c_char_p, c_int, POINTER(c_uint64)]),
    "vy_name_drop": (c_int, [P, c_char_p]),
    "vy_name_list": (c_int, [P, c_char_p, NAME_FN, c_void_p]),
    "vy_delete": (c_int, [P, POINTER(c_uint64), c_size_t, c_uint,
                          POINTER(c_size_t)]),
    "vy_persist": (c_int, [P, c_uint64]),
    "vy_persist_many": (c_int, [P, POINTER(c_uint64), c_size_t]),
    "vy_unpersist": (c_int, [P, c_uint64]),
    "vy_evict": (c_int, [P, POINTER(c_uint64), c_size_t]),
    "vy_load": (c_int, [P, POINTER(c_uint64), c_size_t, c_int]),
    "vy_unhold": (c_int, [P, POINTER(c_uint64), c_size_t]),
    "vy_is_spilled": (c_int, [P, c_uint64, POINTER(c_int)]),
    "vy_list": (c_int, [P, c_char_p, LIST_FN, c_void_p]),
    "vy_meta_json": (c_int, [P, c_uint64, POINTER(c_void_p)]),
    "vy_status_json": (c_int, [P, POINTER(c_void_p)]),
    # streams
    "vy_stream_create": (c_int, [P, c_char_p, c_int, c_char_p,
                                 POINTER(c_uint64)]),
    "vy_stream_open_writer": (c_int, [P, c_uint64, c_char_p, c_int,
                                      POINTER(P)]),
    "vy_stream_open_reader": (c_int, [P, c_uint64, c_char_p, c_int,
                                      POINTER(P)]),
    "vy_stream_id": (c_uint64, [P]),
    "vy_stream_typename": (c_char_p, [P]),
    "vy_stream_is_objects": (c_int, [P]),
    "vy_stream_next_chunk": (c_int, [P, P, c_size_t, c_int,
                                     POINTER(c_void_p)]),
    "vy_stream_append": (c_int, [P, P, c_uint64, c_int]),
    "vy_stream_write": (c_int, [P, P, c_void_p, c_size_t, c_int]),
    "vy_stream_finish": (c_int, [P, P]),
    "vy_stream_fail": (c_int, [P, P, c_char_p]),
    "vy_stream_read": (c_int, [P, P, c_int, POINTER(P)]),
    "vy_stream_close": (c_int, [P, P]),
    "vy_stream_info": (c_int, [P, c_uint64, c_char_p, c_void_p]),
}

# Each vy_<name> becomes _capi.<name> (vy_get -> _capi.get). Inside this
# module that shadows a few builtins (list, delete...): none is used here.
for _name, (_res, _args) in _protos.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
    globals()[_name[3:]] = _f  # vy_get -> _capi.get
del _name, _res, _args, _f

DELETE_SHALLOW = 0x1
GET_NOFETCH = 0x1  # VY_GET_NOFETCH


def take_string(ptr):
    """Copies a malloc'd NUL-terminated C string into str and frees it."""
    if not ptr:
        raise MemoryError("libvineyard: out of memory")
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        free(ptr)


def fail(rc, c=None, what=None):
    """The exception for return code rc (a negative errno) of a call on
    client handle c, with vy_errmsg's sentence."""
    msg = errmsg(c).decode("utf-8", "replace") if c else ""
    if not msg:
        msg = os.strerror(-rc)
    if what:
        msg = "%s: %s" % (what, msg)
    return errors.from_errno(-rc, msg)


def check(rc, c=None, what=None):
    if rc < 0:
        raise fail(rc, c, what)
    return rc
