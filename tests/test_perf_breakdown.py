"""benchmarks/perf_breakdown.py: perf samples grouped into kinds of machine code."""
import importlib.util

import pytest

from conftest import REPO

_spec = importlib.util.spec_from_file_location("perf_breakdown", REPO / "benchmarks" / "perf_breakdown.py")
perf_breakdown = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(perf_breakdown)

# `perf report --no-children --sort dso,sym --stdio` lines as perf prints them (symbols shortened).
REPORT = """\
# Samples: 24K of event 'cpu-clock:ppp'
#
    36.04%  [JIT] tid 29150       [.] jit_avx512_common_gemm_f32_xbyak_gemm.9
     6.03%  [JIT] tid 30201       [.] jit_avx512_common_conv_bwd_weights_kernel_f32_t.53
     5.00%  libtorch_cpu.so       [.] mkl_blas_def_sgemm_kernel_0_zen
    13.04%  libjax_common.so      [.] Eigen::internal::gemm_pack_colmajor_block<float, long, Eigen::internal::TensorContractionSubMapper<float>
     1.88%  libtorch_cpu.so       [.] mkl_blas_def_sgemm_scopy_right4_bdz
     0.81%  [JIT] tid 30201       [.] jit_single_blk_kernel.10
     9.00%  [JIT] tid 29150       [.] 0x00007f00afe08517
     1.48%  [kernel.kallsyms]     [k] exc_page_fault
     3.15%  libgomp.so.1          [.] 0x000000000001e02a
     0.22%  libjax_common.so      [.] Eigen::ThreadPoolTempl<tsl::thread::EigenEnvironment>::GlobalSteal
     2.11%  libpython3.11.so.1.0  [.] gc_collect_main
     2.08%  libtorch_cpu.so       [.] at::native::AVX2::VectorizedLoop2d<at::native::AVX2>
     0.50%  libc.so.6             [.] _int_free
"""


def test_each_sample_line_goes_to_its_kind():
  shares = perf_breakdown.breakdown(REPORT)
  expected = {
      "matmul / conv arithmetic": 36.04 + 6.03 + 5.00,
      "matmul / conv packing and layout": 13.04 + 1.88 + 0.81,
      "generated code (XLA fusions)": 9.00,
      "OS kernel (page faults, scheduling)": 1.48,
      "threads waiting": 3.15 + 0.22,
      "Python": 2.11,
      "PyTorch's own loops (ATen)": 2.08,
      "other (libc.so.6)": 0.50,
  }
  assert shares.keys() == expected.keys()
  for kind, share in expected.items():
    assert shares[kind] == pytest.approx(share), kind
  assert list(shares) == sorted(shares, key=shares.get, reverse=True)  # largest first
