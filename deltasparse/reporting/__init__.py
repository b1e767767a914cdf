"""Result reporting: run loading, tables and plots of experiment results."""
