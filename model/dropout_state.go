package model

// DropoutStream returns the position of the LoRA dropout stream: the number of
// forwards that drew dropout masks so far. A checkpoint saves it so that a resumed
// run draws the same masks as an uninterrupted one.
func (m *Model) DropoutStream() uint64 { return m.rng }

// SetDropoutStream restores a position returned by DropoutStream.
func (m *Model) SetDropoutStream(pos uint64) { m.rng = pos }
