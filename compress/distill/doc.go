// Package distill owns knowledge distillation (Hinton, Vinyals and Dean,
// 2015): the KD loss (a train.Loss), a teacher that serves its logits from
// gcompress's runtime (computed once for a fixed transfer set, or per batch
// when the inputs are augmented), and Run, the teacher -> student job that
// trains the student with package train on gorgonia.
package distill
