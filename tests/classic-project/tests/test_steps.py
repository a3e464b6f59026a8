from steps import load_rows, train_model


def test_the_rows_load_and_the_trainer_imports_on_the_tracking_stack():
    assert len(load_rows.entrypoint()) == 60
    assert train_model.name == "train_model"
