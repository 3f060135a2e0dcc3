#!/usr/bin/env bash
# Run the fast tests on the oldest and newest Python the package claims (requires-python).
#
#   bash tools/other_pythons.sh            # 3.10 and 3.13
#   bash tools/other_pythons.sh 3.12       # any minor versions
#
# Each interpreter comes from pyenv's versions folder (the newest patch release of that minor
# version); set KLING_NB_PYTHON_3_10=/path/to/python3.10 (dots as underscores) to use another.
# Each gets a venv in .venv-py<minor>/ (git-ignored), reused while its installed packages
# still match what `pip install -e ".[fast]"` gave it. Fails if an interpreter is missing, if
# any test fails, or if no test was collected (pytest exit status 5).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# The venvs import this checkout through their editable install, nothing else.
unset PYTHONPATH

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.13)

find_python() {  # $1 = minor version, e.g. 3.10; prints the interpreter's path
    local minor=$1 override_var candidate root
    override_var="KLING_NB_PYTHON_${minor//./_}"
    if [ -n "${!override_var:-}" ]; then
        echo "${!override_var}"
        return
    fi
    if ! root=$(pyenv root 2>/dev/null); then
        root=${PYENV_ROOT:-$HOME/.pyenv}
    fi
    # Newest patch release of this minor version: 3.10.13 sorts after 3.10.9 with sort -V.
    candidate=$(find "$root/versions" -mindepth 1 -maxdepth 1 -name "$minor.*" 2>/dev/null \
        | grep -E "/$minor\.[0-9]+$" | sort -V | tail -n 1 || true)
    if [ -z "$candidate" ] || [ ! -x "$candidate/bin/python$minor" ]; then
        echo "other_pythons: no Python $minor in $root/versions/ (install it with" \
            "\`pyenv install $minor\`, or set $override_var=/path/to/python$minor)" >&2
        return 1
    fi
    echo "$candidate/bin/python$minor"
}

prepare_venv() {  # $1 = interpreter, $2 = venv folder
    local python=$1 venv=$2 stamp="$2/.kling-nb-freeze"
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] \
        && [ "$("$venv/bin/python" -m pip freeze --exclude-editable)" = "$(cat "$stamp")" ] \
        && [ "$stamp" -nt pyproject.toml ]; then
        echo "== reusing $venv"
        return
    fi
    echo "== creating $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q -e ".[fast]"
    "$venv/bin/python" -m pip freeze --exclude-editable >"$stamp"
}

run_fast_tests() {  # $1 = venv folder
    local status=0
    # addopts is replaced: nbval is not installed here, and tests/ is all this run collects.
    "$1/bin/python" -m pytest -p no:cacheprovider -p no:nbval \
        -o addopts="-ra --strict-markers --strict-config" -q \
        -m "not kernel and not browser and not slow" tests/ || status=$?
    if [ "$status" -eq 5 ]; then
        echo "other_pythons: pytest collected no tests" >&2
    fi
    return "$status"
}

for minor in "${versions[@]}"; do
    python=$(find_python "$minor")
    venv=".venv-py$minor"
    start=$SECONDS
    prepare_venv "$python" "$venv"
    echo "== fast tests on $("$venv/bin/python" --version)"
    run_fast_tests "$venv"
    echo "== Python $minor: passed in $((SECONDS - start)) s"
done
