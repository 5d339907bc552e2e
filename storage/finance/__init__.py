"""The office's money: the scheme's finance settings, financial years, fees and statements."""
