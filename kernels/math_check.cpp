// Host check of the device math in train_step.cu (compiled as plain C++, no __CUDA__):
// max error in ulps of expf_acc, logf_acc and log1pf_acc against the C library's double
// functions rounded to f32, over a dense sweep. Exit status 1 when an error exceeds MAX_ULP.
// Run by build_ptx.sh before it emits the PTX.
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <cstring>
#include "train_step.cu"

static const double MAX_ULP = 2.0;  // fdlibm-style reductions are within ~1 ulp

static double ulp_err(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0 : 1e9;
  if (std::isinf(want)) return got == (float)want ? 0.0 : 1e9;
  float wf = (float)want;
  if (wf == 0.0f) return got == 0.0f ? 0.0 : std::fabs(got) / 1.4e-45;
  float next = std::nextafter(std::fabs(wf), INFINITY);
  double ulp = (double)next - std::fabs((double)wf);
  return std::fabs((double)got - want) / ulp;
}

int main() {
  double e_exp = 0, e_log = 0, e_l1p = 0, at_exp = 0, at_log = 0, at_l1p = 0;
  // exp over [-87, 88] (normal results), every 2^-12 step plus the bit patterns in between.
  for (double x = -87.0; x <= 88.0; x += 1.0 / 4096.0) {
    float xf = (float)x;
    double e = ulp_err(expf_acc(xf), std::exp((double)xf));
    if (e > e_exp) { e_exp = e; at_exp = xf; }
  }
  // log over (0, 1e38]: a geometric sweep.
  for (double x = 1e-37; x < 1e38; x *= 1.0001) {
    float xf = (float)x;
    double e = ulp_err(logf_acc(xf), std::log((double)xf));
    if (e > e_log) { e_log = e; at_log = xf; }
  }
  // log1p over [0, 1] (its use: log(1 + e^{-|2u|})).
  for (double t = 0; t <= 1.0; t += 1.0 / 65536.0) {
    float tf = (float)t;
    double e = ulp_err(log1pf_acc(tf), std::log1p((double)tf));
    if (e > e_l1p) { e_l1p = e; at_l1p = tf; }
  }
  // Special values.
  int bad = 0;
  bad |= !(expf_acc(100.0f) == INFINITY);
  bad |= !(expf_acc(-200.0f) == 0.0f);
  bad |= !std::isnan(expf_acc(NAN));
  bad |= !(logf_acc(0.0f) == -INFINITY);
  bad |= !std::isnan(logf_acc(-1.0f));
  bad |= !(logf_acc(1.0f) == 0.0f);
  std::printf("expf_acc   max error %.3f ulp at x = %.9g\n", e_exp, at_exp);
  std::printf("logf_acc   max error %.3f ulp at x = %.9g\n", e_log, at_log);
  std::printf("log1pf_acc max error %.3f ulp at t = %.9g\n", e_l1p, at_l1p);
  std::printf("special values %s\n", bad ? "WRONG" : "ok");
  return (e_exp > MAX_ULP || e_log > MAX_ULP || e_l1p > MAX_ULP || bad) ? 1 : 0;
}
