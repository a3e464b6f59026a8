# In the folder that holds old-project/ (requirements.txt, steps/, pipelines/, run.py, configs/,
# data/, tests/), as ZenML's classic templates lay a project out.

# 1. A zenlock project beside it, and its .venv
uvx copier copy --defaults --data project_name="Iris Classifier" https://github.com/OWNER/zenlock.git iris-classifier
cd iris-classifier
uvx nox -s dev

# 2. requirements.txt into pyproject.toml: ZenML integrations (by ZenML's registry) and plain
#    dependencies, locked; ZenML itself stays the one pinned in pyproject.toml
uvx nox -s integrations -- add --from ../old-project/requirements.txt

# 3. The code under the package, in place of the template's example; data/ and the run
#    configurations at the project's root; imports of steps and pipelines through the package
rm -r src/iris_classifier/steps src/iris_classifier/pipelines tests/test_pipelines.py
rm configs/training.yaml configs/inference.yaml
cp -r ../old-project/steps ../old-project/pipelines src/iris_classifier/
cp -r ../old-project/tests/. tests/
cp -r ../old-project/data ../old-project/configs .
sed -i -E 's/^(from|import) (steps|pipelines)\b/\1 iris_classifier.\2/' \
  $(grep -rlE '^(from|import) (steps|pipelines)\b' src tests)

# 4. Stacks registered by hand become stack files: ZenML's CLI on this project's store
uvx nox -s zenml -- experiment-tracker register mlflow_tracker --flavor=mlflow
uvx nox -s zenml -- stack register mlflow_stack -o default -a default -e mlflow_tracker
uvx nox -s stacks -- export mlflow_stack
uvx nox -s stacks -- apply local-docker
uvx nox -s zenml -- stack register mlflow_docker -o local-docker -i local-docker -a default -e mlflow_tracker
uvx nox -s stacks -- export mlflow_docker
sed -i 's/^# default = "local-docker"/default = "mlflow_stack"/' pyproject.toml   # [tool.zenlock.stacks]

# 5. Run and test locally; then against the project's own server, and in the pipeline image
#    (steps in containers report to a server)
uvx nox -s run -- --pipeline training_pipeline
uvx nox -s tests
uvx nox -s images
uvx nox -s server
uvx nox -s server -- up
uvx nox -s stacks -- apply
uvx nox -s run -- --pipeline training_pipeline
uvx nox -s run -- --pipeline training_pipeline --stack mlflow_docker
uvx nox -s check
