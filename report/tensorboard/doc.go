// Package tensorboard writes TensorBoard event files: the scalars a training run logs,
// readable by TensorBoard (and by anything that reads TFRecord files of tensorflow.Event
// protos) without a TensorFlow, PyTorch or protobuf dependency.
//
// A file is a sequence of TFRecords: uint64 length (little endian), the masked
// CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data, where
// mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8. Each record holds one Event proto
// (wall_time double = 1, step int64 = 2, file_version string = 3, summary Summary = 5;
// Summary.value = 1 repeated, Summary.Value{tag string = 1, simple_value float = 2}),
// encoded by hand here. The first event carries file_version "brain.Event:2", as
// TensorBoard's EventFileWriter writes it; scalars follow, one event per value as
// torch's SummaryWriter.add_scalar writes them.
//
// File names follow TensorBoard's EventFileWriter:
// events.out.tfevents.<unix seconds, 10 digits>.<host>.<pid>.<n>. Tags follow
// transformers' TensorBoardCallback (rewrite_logs): a trainer metric key eval_x is
// logged as eval/x, test_x as test/x, every other key as train/key.
package tensorboard
