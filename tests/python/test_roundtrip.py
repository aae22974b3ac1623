"""Round trips of every type the package builds: numpy arrays of every
bool and numeric dtype in every shape and order, pandas frames, series and
indexes, Python's own types, and the pickle fallback."""
import collections
import datetime
import decimal
import fractions
import math

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
          np.uint16, np.uint32, np.uint64, np.float16, np.float32,
          np.float64, np.longdouble, np.complex64, np.complex128,
          np.clongdouble, "datetime64[ns]", "datetime64[D]",
          "timedelta64[us]", ">i4", ">f8"]
SHAPES = [(), (0,), (1,), (7,), (0, 3), (3, 0), (2, 4), (3, 4, 5),
          (1000, 3), (5000,)]


def sample(dtype, shape, seed=0):
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype.kind == "b":
        flat = rng.integers(0, 2, n).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, n, dtype=dtype.newbyteorder("="),
                            endpoint=True)
    elif dtype.kind == "c":
        flat = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    elif dtype.kind in "mM":
        flat = rng.integers(-10 ** 6, 10 ** 6, n)
    else:
        flat = rng.standard_normal(n) * 1000
    return np.asarray(flat).astype(dtype).reshape(shape)


def same(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_ndarray_every_dtype_and_shape(client, dtype):
    for shape in SHAPES:
        a = sample(dtype, shape)
        got = client.get(client.put(a))
        same(got, a)
        assert not got.flags.writeable


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.complex128,
                                   np.bool_])
def test_ndarray_orders_and_strides(client, dtype):
    c = sample(dtype, (30, 7))
    f = np.asfortranarray(c)
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    got = client.get(client.put(f))
    same(got, f)
    assert got.flags.f_contiguous  # stored and returned in Fortran order
    assert client.get_meta(client.put(f))["order_"] == "F"
    f3 = np.asfortranarray(sample(dtype, (4, 5, 6)))
    same(client.get(client.put(f3)), f3)
    for view in (c[::2], c[:, ::3], c.T, c[::-1, 1:5], f3[1:, ::2, :]):
        same(client.get(client.put(view)), np.ascontiguousarray(view))


def test_ndarray_nan_and_infinities(client):
    a = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308])
    got = client.get(client.put(a))
    assert np.array_equal(got, a, equal_nan=True)
    assert math.copysign(1, got[3]) == -1


def test_tensor_metadata_reads_like_upstream(client):
    a = np.zeros((2, 4))
    meta = client.get_meta(client.put(a))
    assert meta.typename == "vineyard::Tensor<double>"
    assert meta["value_type_"] == "double"
    assert meta["shape_"] == [2, 4]
    assert meta["order_"] == "C"
    assert meta.members["buffer_"].typename == "vineyard::Blob"
    assert meta.members["buffer_"].nbytes == 64
    names = {np.int32: "int32", np.int64: "int64", np.float32: "float",
             np.uint8: "uint8", np.bool_: "bool"}
    for t, name in names.items():
        m = client.get_meta(client.put(np.zeros(3, t)))
        assert m.typename == "vineyard::Tensor<%s>" % name


def test_dataframe_mixed_dtypes(client):
    n = 50
    df = pd.DataFrame({
        "i8": np.arange(n, dtype=np.int8), "u64": np.arange(n, dtype=np.uint64),
        "f32": np.linspace(0, 1, n, dtype=np.float32),
        "f64": np.where(np.arange(n) % 7 == 0, np.nan, np.arange(n) * 0.5),
        "b": np.arange(n) % 2 == 0, "c": np.arange(n) * (1 + 2j),
        "s": ["row%d" % i for i in range(n)],
        "obj": [None if i % 5 == 0 else {"k": i} for i in range(n)],
        "t": pd.date_range("2020-01-01", periods=n, freq="H"),
        "td": pd.to_timedelta(np.arange(n), unit="s"),
        "cat": pd.Categorical(["a", "b", "c", "a", "b"] * 10),
        "nullable": pd.array([1, None] * 25, dtype="Int64"),
        "tz": pd.date_range("2021-06-01", periods=n, freq="D", tz="UTC"),
    })
    got = client.get(client.put(df))
    pdt.assert_frame_equal(got, df)


@pytest.mark.parametrize("columns", [
    ["a", "b", "c"], [0, 1, 2], [10, "x", 2.5], ["dup", "dup", "z"],
    pd.RangeIndex(3), pd.Index(["a", "b", "c"], name="cols"),
    pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)]),
    [("t", 1), ("t", 2), ("u", 3)], [np.int64(1), np.int64(2), np.int64(3)],
    pd.Index([1, 2, 3], dtype=object), [True, False, None],
], ids=repr)
def test_dataframe_column_labels(client, columns):
    df = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=columns)
    got = client.get(client.put(df))
    pdt.assert_frame_equal(got, df)
    assert type(got.columns) is type(df.columns)


@pytest.mark.parametrize("index", [
    None, pd.RangeIndex(5, 25, 4), pd.RangeIndex(5, name="r"),
    pd.Index([3, 1, 4, 1, 5]), pd.Index([3, 1, 4, 1, 5], name="idx"),
    pd.Index([0.5, 1.5, np.nan, 3.5, 4.5], name="f"),
    pd.Index(list("abcde"), name="letters"),
    pd.date_range("2022-01-01", periods=5, name="day"),
    pd.DatetimeIndex(["2022-01-03", "2022-01-01", "2022-02-01",
                      "2021-01-01", "2020-01-01"]),
    pd.MultiIndex.from_product([["x"], [1, 2, 3, 4, 5]], names=["a", "b"]),
    pd.CategoricalIndex(list("aabbc")),
], ids=repr)
def test_dataframe_index(client, index):
    df = pd.DataFrame({"a": np.arange(5), "b": np.arange(5) * 1.5},
                      index=index)
    got = client.get(client.put(df))
    pdt.assert_frame_equal(got, df)
    assert type(got.index) is type(df.index)


def test_dataframe_empty_and_wide(client):
    for df in (pd.DataFrame(), pd.DataFrame({"a": []}),
               pd.DataFrame(index=pd.RangeIndex(4)),
               pd.DataFrame({"a": np.array([], dtype=np.float32),
                             "b": np.array([], dtype=np.int64)}),
               pd.DataFrame(np.random.rand(3, 300))):
        got = client.get(client.put(df))
        pdt.assert_frame_equal(got, df)


def test_dataframe_sparse_columns_come_back_dense(client):
    # as upstream: a frame's sparse columns are dense numpy columns once
    # got, the fill value written out (NaN for float, 0 for an int fill)
    rng = np.random.default_rng(3)
    dense = pd.DataFrame(rng.standard_normal((40, 3)), columns=["x", 7, "z"])
    dense.iloc[:35] = np.nan
    sparse = dense.astype(pd.SparseDtype("float", np.nan))
    sparse["n"] = pd.arrays.SparseArray([0] * 38 + [4, 5], fill_value=0)
    sparse["plain"] = np.arange(40)
    assert isinstance(sparse.dtypes["x"], pd.SparseDtype)
    got = client.get(client.put(sparse))
    want = dense.copy()
    want["n"] = np.array([0] * 38 + [4, 5], dtype=np.int64)
    want["plain"] = np.arange(40)
    pdt.assert_frame_equal(got, want)
    assert not any(isinstance(t, pd.SparseDtype) for t in got.dtypes)
    assert got["x"].isna().sum() == 35 and got.dtypes["x"] == np.float64


def test_sparse_array_alone_stays_sparse(client):
    arr = pd.arrays.SparseArray([np.nan, 1.5, np.nan, np.nan, -2.0])
    got = client.get(client.put(arr))
    assert isinstance(got, pd.arrays.SparseArray)
    pdt.assert_extension_array_equal(got, arr)
    ints = pd.arrays.SparseArray([0, 0, 3, 0], fill_value=0)
    pdt.assert_extension_array_equal(client.get(client.put(ints)), ints)
    s = pd.Series(arr, name="sp")
    pdt.assert_series_equal(client.get(client.put(s)), s)


def test_dataframe_metadata_reads_like_upstream(client):
    df = pd.DataFrame({"u": [0, 1], "weight": [1.5, 3.2]})
    meta = client.get_meta(client.put(df))
    assert meta.typename == "vineyard::DataFrame"
    assert meta["__values_-size"] == 2
    assert meta["__values_-key-0"] == '"u"'
    assert meta["columns_"] == '["u", "weight"]'
    col = meta.members["__values_-value-1"]
    assert col.typename == "vineyard::Tensor<double>"
    assert col.members["buffer_"].typename == "vineyard::Blob"
    assert meta.members["index_"].typename == "vineyard::RangeIndex"


@pytest.mark.parametrize("series", [
    pd.Series([1.5, np.nan, 3.0, np.nan], name="with nan"),
    pd.Series([1, 2, 3]),
    pd.Series(np.arange(4, dtype=np.uint16), name=7,
              index=pd.Index([10, 20, 30, 40], name="i")),
    pd.Series(["a", None, "c"], name="strings"),
    pd.Series([True, False, True], name=None, index=list("xyz")),
    pd.Series(pd.date_range("2020-01-01", periods=3), name="ts"),
    pd.Series([1, 2], name=("tuple", "name")),
    pd.Series(pd.Categorical(["u", "v", "u"]), name="cat"),
    pd.Series([], dtype=np.float64, name="empty"),
], ids=lambda s: repr(s.name))
def test_series(client, series):
    got = client.get(client.put(series))
    pdt.assert_series_equal(got, series)
    assert got.name == series.name or (got.name is None and
                                       series.name is None)


@pytest.mark.parametrize("index", [
    pd.RangeIndex(0, 10, 3, name="r"), pd.Index([5, 3, 1]),
    pd.Index([1.5, 2.5]), pd.Index(["a", "b"], name="s"),
    pd.Index([], dtype=np.int64), pd.date_range("2020-01-01", periods=3),
    pd.MultiIndex.from_arrays([[1, 2], ["a", "b"]]),
], ids=repr)
def test_index(client, index):
    got = client.get(client.put(index))
    pdt.assert_index_equal(got, index, exact=True)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


Pair = collections.namedtuple("Pair", "a b")

BUILTINS = [
    None, True, False, 0, 1, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 64, -3 ** 90,
    0.0, -0.0, 1.5, 1e308, float("inf"), float("-inf"),
    "", "hello", "ünïcødé ✓ 漢字", "a\0b", "x" * 100000, "\ud800 lone",
    b"", b"\x00\x01\xff", bytes(range(256)) * 100,
    (), (1,), (1, "a", None), [], [1, [2, [3, [4]]]], {}, {"a": 1, 2: "b"},
    {(1, 2): [3, 4], None: {"x": b"y"}, 1.5: (True,)},
    [1] * 5000, {i: str(i) for i in range(3000)},
    set([1, 2, 3]), frozenset("ab"), bytearray(b"abc"), complex(1, 2),
    Point(1, 2), Pair(1, "b"), collections.OrderedDict(a=1, b=2),
    datetime.date(2020, 1, 2), decimal.Decimal("1.10"),
    fractions.Fraction(1, 3), np.float64(2.5), np.int32(-7), np.bool_(True),
    range(3, 10, 2),
]


def lists_as_tuples(value):
    """value with every list in it (inside lists, tuples and dicts) made a
    tuple: what a get of value gives back, as upstream gives it."""
    if type(value) in (list, tuple):
        return tuple(lists_as_tuples(v) for v in value)
    if type(value) is dict:
        return {k: lists_as_tuples(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("value", BUILTINS, ids=lambda v: repr(v)[:40])
def test_builtins(client, value):
    got = client.get(client.put(value))
    want = lists_as_tuples(value)
    assert type(got) is type(want)
    assert got == want
    if isinstance(value, float) and value == 0:
        assert math.copysign(1, got) == math.copysign(1, value)


def test_nan_scalar(client):
    got = client.get(client.put(float("nan")))
    assert type(got) is float and math.isnan(got)


def test_containers_of_arrays_and_frames(client):
    a = np.arange(10.0)
    df = pd.DataFrame({"x": [1, 2]})
    value = {"array": a, "frame": df, "list": [a * 2, (a * 3, "t")],
             "nested": {"deep": [[[[[[[[[[a]]]]]]]]]]}}
    got = client.get(client.put(value))
    assert np.array_equal(got["array"], a)
    pdt.assert_frame_equal(got["frame"], df)
    assert np.array_equal(got["list"][0], a * 2)
    assert got["list"][1][1] == "t"
    deep = got["nested"]["deep"]
    for _ in range(9):
        deep = deep[0]
    assert np.array_equal(deep[0], a)


def test_deep_nesting_splits_the_put(client):
    value = 42
    for i in range(40):
        value = [value, i]
    got = client.get(client.put(value))
    # the levels past 32 are one pickle, whose inner lists stay lists
    assert type(got) is tuple
    assert lists_as_tuples(got) == lists_as_tuples(value)


def test_list_comes_back_as_tuple(client):
    # as upstream, whose users compare get(put(a_list)) with tuple(a_list)
    for value in ([1, 2, None, None, 5], [], [[1, 2], {"k": [3, [4]]}],
                  [np.int64(3), "x"], list(range(5000))):
        got = client.get(client.put(value))
        assert type(got) is tuple, type(got)
        assert got == lists_as_tuples(value)
    # it is still stored as a list, for readers of the metadata
    assert client.get_meta(client.put([1, 2])).typename == "vineyard::List"
    got = client.get(client.put({"a": [1.5, "b"], "t": (1, [2])}))
    assert got == {"a": (1.5, "b"), "t": (1, (2,))}


def test_pickled_arrays_come_back_zero_copy(client):
    a = np.arange(100000, dtype=np.int64)
    value = {1, 2}, collections.OrderedDict(big=a)
    got = client.get(client.put(value))
    assert got[0] == {1, 2}
    arr = got[1]["big"]
    assert np.array_equal(arr, a) and not arr.flags.writeable
    meta = client.get_meta(client.put(collections.OrderedDict(big=a)))
    assert meta.typename == "vineyard::Pickle"
    assert meta["nbuffers_"] == 1
    assert meta.members["buffers_-0"].nbytes == a.nbytes


def test_object_and_string_arrays(client):
    for a in (np.array(["a", "bb", None], dtype=object),
              np.array(["fixed", "width"]), np.array([b"x", b"yz"]),
              np.zeros(3, dtype=[("a", "i4"), ("b", "f8")])):
        got = client.get(client.put(a))
        assert got.dtype == a.dtype and np.array_equal(got, a)


def test_ndarray_subclass_keeps_its_type(client):
    m = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    got = client.get(client.put(m))
    assert type(got) is np.ma.MaskedArray
    assert got.mask.tolist() == [False, True, False]


def test_blob_id_gives_memoryview(client):
    oid = client.put(np.arange(4, dtype=np.uint8))
    blob = client.get_meta(oid).members["buffer_"]
    mv = client.get(blob.id)
    assert isinstance(mv, memoryview) and mv.readonly
    assert bytes(mv) == b"\x00\x01\x02\x03"


def test_large_tree_splits_the_put(client):
    """More objects than one put carries (16384): the tree goes in parts."""
    value = {i: list(range(20)) for i in range(1000)}  # 22001 objects
    oid = client.put(value)
    assert client.get(oid) == lists_as_tuples(value)
    assert len(client.list_objects()) == 22001
    client.delete(oid)
    assert client.list_objects() == []
