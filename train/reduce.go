package train

// GradReducer is the seam for data parallelism: after every worker has accumulated
// its micro-batches, the trainer hands the flat trainable-gradient buffer to the
// reducer, which replaces it with the mean over workers, before the gradient norm,
// clipping and the optimizer update. One process needs no reduction; the MPI process
// group (dist.World, over OpenMPI's MPI_Allreduce) implements this interface for a
// data-parallel run (distributed.go).
type GradReducer interface {
	// AllReduceMean replaces grads, element-wise, with its mean over all workers.
	AllReduceMean(grads []float32) error
}

// singleProcess is the reducer of a run with one worker: the identity.
type singleProcess struct{}

func (singleProcess) AllReduceMean([]float32) error { return nil }
