"""Regenerates the arbitrary-precision vectors of test/dp/rdp.test.ts and test/dp/logmath.test.ts.

Independent of src/dp: integer orders use the exact finite sum
A_a = sum_i C(a, i) q^i (1 - q)^(a - i) exp((i^2 - i) / (2 sigma^2)); fractional orders integrate
A_a = E_{z ~ N(0, sigma^2)}[((1 - q) + q exp((2z - 1) / (2 sigma^2)))^a] by adaptive quadrature,
with breakpoints at 0, 1, z0 and around z = a where the q-part of the integrand peaks.
RDP = log(A_a) / (a - 1). Needs mpmath (not a project dependency): python3 gen-rdp-vectors.py
"""
import mpmath

mpmath.mp.dps = 40


def log_a(q, s, a):
    q, s = mpmath.mpf(q), mpmath.mpf(s)
    if float(a).is_integer():
        a = int(a)
        terms = (mpmath.binomial(a, i) * q**i * (1 - q) ** (a - i) * mpmath.exp(mpmath.mpf(i * i - i) / (2 * s * s)) for i in range(a + 1))
        return mpmath.log(mpmath.fsum(terms))
    a = mpmath.mpf(a)

    def f(z):
        return mpmath.npdf(z, 0, s) * ((1 - q) + q * mpmath.exp((2 * z - 1) / (2 * s * s))) ** a

    z0 = s * s * mpmath.log(1 / q - 1) + mpmath.mpf(1) / 2
    points = sorted({-10 * s, 0, 1, z0, a, a - 10 * s, a + 10 * s, 10 * s + 1})
    return mpmath.log(mpmath.quad(f, [-mpmath.inf, *points, mpmath.inf]))


CASES = [(256 / 60000, 1.1, 8.1), (256 / 60000, 1.1, 1.5), (0.01, 4.0, 1.3), (0.01, 4.0, 10.9), (0.1, 1.0, 2.5),
         (0.3, 2.0, 5.5), (1e-5, 0.8, 3.7), (0.5, 1.0, 6.2), (256 / 60000, 1.1, 17), (0.01, 4.0, 256),
         (0.1, 1.0, 63), (0.5, 2.0, 1024), (0.001, 0.5, 12)]

for q, s, a in CASES:
    print(f"  [{q!r}, {s!r}, {a!r}, {float(log_a(q, s, a) / (a - 1))!r}],")

mpmath.mp.dps = 50
for x in [-30, -3, -2.0001, -1, -0.3, 0, 1e-8, 0.5, 1.5, 1.9999, 2, 2.0001, 3, 5, 10, 27, 100, 1e6]:
    print(f"  [{x!r}, {float(mpmath.log(mpmath.erfc(mpmath.mpf(x))))!r}],")
