"""Trainers of every algorithm Vigil serves: each fits on a matrix and hands back an ONNX
artifact with the library's own scores beside it, so training can prove the two agree."""
