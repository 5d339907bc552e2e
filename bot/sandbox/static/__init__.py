"""The sandbox page (HTML, CSS, JavaScript): a package only so that installs ship these files."""
