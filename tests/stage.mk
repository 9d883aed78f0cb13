# tests/stage.mk: (being written)
