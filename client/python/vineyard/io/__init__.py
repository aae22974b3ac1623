"""vineyard.io: streams, in the shape of upstream Vineyard's vineyard.io
(ByteStream, DataframeStream...). See vineyard-python(7), STREAMS."""
from ..errors import StreamFailed
from .byte import ByteStream
from .dataframe import DataframeStream, RecordBatchStream
from .stream import BaseStream

__all__ = ["BaseStream", "ByteStream", "DataframeStream",
           "RecordBatchStream", "StreamFailed"]
