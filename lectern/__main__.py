from lectern.cli import app

app(prog_name="lectern")
