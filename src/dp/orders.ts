/**
 * The default Rényi orders α at which the accountant tracks RDP.
 * @module
 */

/**
 * The default orders: 1.1, 1.2, …, 10.9 (step 0.1), then the integers 11 … 63, then 128, 256, 512
 * and 1024 — the list of Google's dp_accounting (`DEFAULT_RDP_ORDERS` in
 * `dp_accounting/rdp/rdp_privacy_accountant.py`), so ε computed here can be compared with theirs
 * order for order. Why so dense: the (ε, δ) conversion minimises over the orders, and the optimum
 * moves smoothly with q, σ, T and δ; for strong privacy (ε ≲ 1) it sits at small fractional orders,
 * so a coarse grid there would overstate ε. The large powers of two cover tiny δ and few steps.
 *
 * Each order is written as 1 + x/10 (not 1 + 0.1·x) to give the same doubles as Python's
 * `1 + x / 10.0`.
 *
 * @example
 * ```ts
 * new RdpAccountant(DEFAULT_RDP_ORDERS); // same as new RdpAccountant()
 * ```
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);
