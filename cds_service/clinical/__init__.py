"""The clinical evaluation: pure functions, no I/O, no clock (now is an argument).

Input: `PatientData` + the knowledge artifact + now. Output: an `Evaluation`.
"""
