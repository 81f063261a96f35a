#!/usr/bin/python3
"""Independent reader of TensorBoard event files (for preftune's report/tensorboard tests).

Written from TensorBoard's record format and proto definitions, not from preftune's code:
  - TFRecord framing (tensorflow/core/lib/io/record_writer.cc): uint64 length (little
    endian), uint32 masked CRC-32C of the 8 length bytes, data, uint32 masked CRC-32C of the
    data; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2^32). The CRC-32C here is a
    pure-Python table implementation of the Castagnoli polynomial (reflected 0x82F63B78).
  - tensorboard/compat/proto/event.proto (Event: wall_time=1 double, step=2 int64,
    file_version=3 string, summary=5 Summary) and summary.proto (Summary.value=1 repeated
    Value; Value.tag=1 string, Value.simple_value=2 float), rebuilt here with
    descriptor_pb2 and parsed by Debian's python3-protobuf.

Usage: read_events.py EVENT_FILE...   Prints one JSON object per event, in file order:
  {"file": name, "wall_time": w, "step": s, "file_version": v}  or
  {"file": name, "wall_time": w, "step": s, "tag": t, "value": x}  (one per summary value)
Exit 3 when python3-protobuf is missing, 1 on a bad record (CRC, truncation, parse).
"""
import json
import math
import os
import struct
import sys

try:
    from google.protobuf import descriptor_pb2, descriptor_pool
    try:
        from google.protobuf.message_factory import GetMessageClass
    except ImportError:  # protobuf < 4.21
        from google.protobuf import message_factory

        def GetMessageClass(desc):
            return message_factory.MessageFactory().GetPrototype(desc)
except ImportError:
    print("python3-protobuf is not installed (apt-get install python3-protobuf)", file=sys.stderr)
    sys.exit(3)


def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def build_classes():
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="tb_event_subset.proto", package="tensorboard", syntax="proto3")
    summary = fdp.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL)
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                      type_name=".tensorboard.Summary.Value")
    event = fdp.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                    type_name=".tensorboard.Summary", oneof_index=0)
    event.oneof_decl.add(name="what")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return GetMessageClass(pool.FindMessageTypeByName("tensorboard.Event"))


Event = build_classes()


def records(path):
    with open(path, "rb") as f:
        raw = f.read()
    off = 0
    n = 0
    while off < len(raw):
        n += 1
        if off + 12 > len(raw):
            raise ValueError("%s: record %d: truncated header" % (path, n))
        hdr = raw[off:off + 8]
        (length,) = struct.unpack("<Q", hdr)
        (hcrc,) = struct.unpack("<I", raw[off + 8:off + 12])
        if hcrc != masked(hdr):
            raise ValueError("%s: record %d: length CRC mismatch" % (path, n))
        data = raw[off + 12:off + 12 + length]
        if len(data) != length or off + 16 + length > len(raw):
            raise ValueError("%s: record %d: truncated data" % (path, n))
        (dcrc,) = struct.unpack("<I", raw[off + 12 + length:off + 16 + length])
        if dcrc != masked(data):
            raise ValueError("%s: record %d: data CRC mismatch" % (path, n))
        yield data
        off += 16 + length


def num(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def main(paths):
    for path in paths:
        name = os.path.basename(path)
        for data in records(path):
            ev = Event()
            ev.ParseFromString(data)
            what = ev.WhichOneof("what")
            if what == "file_version":
                print(json.dumps({"file": name, "wall_time": ev.wall_time, "step": ev.step, "file_version": ev.file_version}))
            elif what == "summary":
                for v in ev.summary.value:
                    print(json.dumps({"file": name, "wall_time": ev.wall_time, "step": ev.step, "tag": v.tag,
                                      "value": num(v.simple_value)}))
            else:
                print(json.dumps({"file": name, "wall_time": ev.wall_time, "step": ev.step}))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ValueError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
