from sirekap.cli import app

app()
