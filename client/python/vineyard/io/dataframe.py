"""DataframeStream: a stream whose chunks are pandas DataFrames, as
upstream's vineyard.io.dataframe (which takes Arrow record batches; here
the frames are stored as the client puts them, one tensor per column). The
reader gets them back in order, their columns views of the store's
memory."""
from ..core.resolver import ResolveContext
from .stream import BaseStream


class DataframeStream(BaseStream):
    typename = "vineyard::DataframeStream"
    objects = True

    class Reader(BaseStream.Reader):
        def next(self, timeout=None):
            """The next DataFrame (zero copy)."""
            obj = self.next_object(timeout)
            return ResolveContext(self._client, {}, None).resolve(obj)

        def read_table(self, timeout=None):
            """Every remaining frame, concatenated (a copy)."""
            import pandas as pd
            frames = []
            while True:
                try:
                    frames.append(self.next(timeout))
                except StopIteration:
                    break
            return pd.concat(frames) if frames else pd.DataFrame()

    class Writer(BaseStream.Writer):
        def write(self, df):
            """Puts df and appends it."""
            self.append(self._client.put(df))

        def write_table(self, df):
            self.write(df)


class RecordBatchStream(DataframeStream):
    """Upstream's name for a stream of record batches; here of frames."""
    typename = "vineyard::RecordBatchStream"
