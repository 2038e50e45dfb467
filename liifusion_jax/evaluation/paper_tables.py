"""The paper's test tables (JBE Vol. 29 No. 6): what each one evaluates and the figures it prints.

Each table runs one protocol of the reference's configs/test/*.yaml (see `protocols`) on data sets
found under a data root laid out as the reference's `load/` folder: `benchmark/<Set5|Set14|B100|
Urban100>` (HR/ and LR_bicubic/X{s}/), `div2k/DIV2K_valid_HR` (with DIV2K_valid_LR_bicubic beside it)
and `celeba_hq` (its first 100 images are CelebA-HQ100). Figures: {method: {data set: [(PSNR, LPIPS
or None) per scale]}}.
"""
import dataclasses

_BENCHMARKS = (("Set5", "benchmark/Set5"), ("Set14", "benchmark/Set14"), ("B100", "benchmark/B100"),
               ("Urban100", "benchmark/Urban100"))
_DIV2K = (("DIV2K", "div2k/DIV2K_valid_HR"),)
_CELEBA = (("CelebA-HQ100", "celeba_hq"),)
_DIV2K_SCALES = (2, 3, 4, 6, 12, 18, 24, 30)
_BENCHMARK_SCALES = (2, 3, 4, 6, 8)


@dataclasses.dataclass(frozen=True)
class Table:
  stage: str
  protocol: str
  datasets: tuple  # (name, path under the data root)
  scales: tuple
  figures: dict
  first_k: int = None  # images per data set (None: all)


def _psnr(*values):
  return [(v, None) for v in values]


def _pairs(*values):
  return list(zip(values[::2], values[1::2]))


TABLES = {
    1: Table("stage1", "div2k", _DIV2K, _DIV2K_SCALES, {
        "Bicubic": {"DIV2K": _psnr(31.07, 28.27, 26.70, 24.87, 22.34, 21.09, 20.29, 19.72)},
        "Ours": {"DIV2K": _psnr(34.60, 30.98, 29.06, 26.84, 23.78, 22.22, 21.22, 20.52)}}),
    2: Table("stage1", "benchmark", _BENCHMARKS, _BENCHMARK_SCALES, {
        "Bicubic": {"Set5": _psnr(31.81, 28.62, 26.70, 24.20, 22.75),
                    "Set14": _psnr(28.33, 25.73, 24.25, 22.50, 21.41),
                    "B100": _psnr(28.28, 25.88, 24.64, 23.22, 22.37),
                    "Urban100": _psnr(25.44, 23.00, 21.69, 20.19, 19.30)},
        "Ours": {"Set5": _psnr(37.97, 34.51, 32.36, 29.03, 27.03),
                 "Set14": _psnr(33.77, 30.43, 28.75, 26.60, 25.09),
                 "B100": _psnr(32.18, 29.15, 27.67, 25.94, 24.88),
                 "Urban100": _psnr(32.13, 28.39, 26.43, 24.05, 22.69)}}),
    3: Table("stage2", "div2k", _DIV2K, _DIV2K_SCALES, {
        "Ours": {"DIV2K": _pairs(33.39, 0.0334, 29.58, 0.0758, 27.86, 0.1238, 25.81, 0.2054, 22.99, 0.4014,
                                 21.54, 0.5091, 20.61, 0.5765, 19.94, 0.6294)}}),
    4: Table("stage2", "benchmark", _BENCHMARKS, _BENCHMARK_SCALES, {
        "Ours": {"Set5": _pairs(36.77, 0.0226, 33.23, 0.0482, 31.18, 0.0777, 27.87, 0.1440, 26.06, 0.2186),
                 "Set14": _pairs(32.68, 0.0472, 29.23, 0.0957, 27.70, 0.1458, 25.78, 0.2399, 24.36, 0.3175),
                 "B100": _pairs(31.22, 0.0613, 27.99, 0.1259, 26.66, 0.1867, 25.17, 0.2869, 24.19, 0.3794),
                 "Urban100": _pairs(31.31, 0.0354, 27.37, 0.0853, 25.44, 0.1384, 23.26, 0.2346,
                                    22.01, 0.3238)}}),
    5: Table("stage2", "celeba", _CELEBA, (5.3, 7, 10, 10.7, 12), {
        "Ours": {"CelebA-HQ100": _pairs(24.75, 0.0451, 24.17, 0.0727, 23.85, 0.1183, 23.81, 0.1254,
                                        23.75, 0.1470)}}, first_k=100),
}


def printed(table, method, dataset, scale):
  """(PSNR, LPIPS or None) the paper prints for `method` ("Ours", "Bicubic"), or None."""
  figures = TABLES[table].figures.get(method, {}).get(dataset)
  return None if figures is None else figures[TABLES[table].scales.index(scale)]
