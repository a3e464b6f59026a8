uvx copier copy --defaults https://github.com/OWNER/zenlock.git my-project
cd my-project
uvx nox -s dev
uvx nox -s run
uvx nox -s run -- --pipeline inference
