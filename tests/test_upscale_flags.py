"""upscale.py takes the spellings of Real-ESRGAN (-i IN -o OUT -s 4, --outscale, --suffix, --ext) and
Thera (IN OUT --scale 4), and names an unknown option before anything else."""
import pytest
from PIL import Image

from liifusion_jax.cli import upscale as upscale_cli
from cli_helpers import smooth_photo


@pytest.mark.parametrize("argv", [
    ["a.png", "-o", "b.png", "--scale", "4"],                 # ours
    ["-i", "a.png", "-o", "b.png", "-s", "4"],                # Real-ESRGAN
    ["--input", "a.png", "--output", "b.png", "--outscale", "4"],
    ["-i", "a.png", "-s4", "b.png"],
    ["a.png", "b.png", "--scale", "4"],                       # Thera
    ["a.png", "--scale", "4", "b.png"],
])
def test_the_spellings_users_know_mean_the_same(argv):
  args = upscale_cli.parse_args(argv)
  assert (args.input, args.output, args.scale, args.size) == ("a.png", "b.png", 4.0, None)


@pytest.mark.parametrize("argv, words", [
    (["-i", "a.png", "-o", "y.png", "-n", "RealESRGAN_x4plus", "-s", "4"], "unrecognized argument -n "),
    (["a.png", "--face_enhance"], "unrecognized argument --face_enhance "),  # before "--scale is required"
    (["a.png", "--scale", "4"], "no output given: pass OUTPUT or -o/--output"),
    (["--scale", "4"], "no input given: pass INPUT or -i/--input"),
    (["a.png", "-o", "b.png", "c.png", "--scale", "4"], "unrecognized argument c.png"),
    (["a.png", "b.png", "--scale", "4", "--ext", "xyz"], "Pillow cannot write .xyz files"),
])
def test_errors_name_the_argument_first(argv, words, capsys):
  with pytest.raises(SystemExit) as end:
    upscale_cli.parse_args(argv)
  err = capsys.readouterr().err
  assert end.value.code == 2 and words in err and len(err.splitlines()) == 1, err


def test_help_lists_the_other_spellings(capsys):
  with pytest.raises(SystemExit):
    upscale_cli.parse_args(["--help"])
  text = capsys.readouterr().out
  for flag in ("-i INPUT, --input INPUT", "-s SCALE, --scale SCALE, --outscale SCALE", "--suffix",
               "--ext", "[INPUT] [OUTPUT]"):
    assert flag in text


def test_output_name():
  assert upscale_cli.output_name("cat.jpg") == "cat.jpg"
  assert upscale_cli.output_name("cat.gif", "out") == "cat_out.gif"
  assert upscale_cli.output_name("cat.xyz") == "cat.png"
  assert upscale_cli.output_name("cat.jpg", "x4", "png") == "cat_x4.png"


def test_suffix_and_ext_name_the_folder_outputs(tmp_path, stage2_ckpt):
  src = tmp_path / "in"
  src.mkdir()
  for name in ("a.png", "b.jpg"):
    Image.fromarray(smooth_photo(20, 24)).save(src / name)
  assert upscale_cli.main(["-i", str(src), "-o", str(tmp_path / "out"), "-s", "2", "--suffix", "out",
                           "--ext", "webp", "--checkpoint", stage2_ckpt]) == 0
  assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_out.webp", "b_out.webp"]
  with Image.open(tmp_path / "out" / "a_out.webp") as im:
    assert (im.format, im.size) == ("WEBP", (48, 40))
