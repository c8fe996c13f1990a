"""How passwords are stored (SPEC ACC-1, OPS-3).

Argon2id with the OWASP Password Storage Cheat Sheet's first configuration — 19 MiB of memory, two
passes, one lane — instead of Django's default PBKDF2 (1,000,000 rounds of SHA-256). Both are what OWASP
recommends; Argon2id is memory-hard (a GPU or ASIC guessing passwords needs 19 MiB per guess), PBKDF2 is
not, and Argon2id here costs about 28 ms of CPU a login where PBKDF2 costs about 290 ms — with PBKDF2 a
login would be the dearest request of a unit's visit in the deadline crush (bench/load.py). Django's own
Argon2 parameters (100 MiB, 8 lanes) cost as much CPU as PBKDF2 on two cores, so they are not used.

The algorithm keeps Django's name "argon2": a stored hash carries its own parameters, and Django rehashes
an older hash (PBKDF2, or other Argon2 parameters) with these at the next successful login.
"""
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
