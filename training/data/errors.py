"""The error raised when dataset files are missing: it says which files to put where."""


class DatasetFilesMissing(FileNotFoundError):
    """A FileNotFoundError whose message lists the expected files, their folder, and a URL."""

    def __init__(self, dataset, folder, expected, url=None, hint=None):
        lines = [f"{dataset}: missing files in {folder}:"]
        lines += [f"  {name}" for name in expected]
        if url:
            lines.append(f"Download {url} and unpack/put it so that these paths exist; "
                         f"`fdal train-teacher --download` (load_dataset(..., download=True) in Python) "
                         f"fetches it into the data folder for you, where this machine can reach the internet.")
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))
        self.expected = list(expected)
        self.folder = folder
