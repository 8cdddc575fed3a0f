"""An image with one secret of each kind planted in every place image metadata can carry one (Env, build
arguments in buildkit's ``RUN |N`` form and as ``ARG`` defaults, labels, entrypoint/cmd, history passwords
given to chpasswd / useradd / --password / mysql -p) and in a file. Shared by the CLI and server tests."""

from __future__ import annotations

from tests.helpers.imagebuild import ImageBuilder

# assembled at run time so the repository itself holds no token-shaped string
GITHUB = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
AWS = "AKIA" + "ZQ4TLVX7M2NPRB6W"
SLACK = "xoxb-" + "2748562154-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
NPM = "npm_" + "Zq8vX2mK9pLrZq8vX2mK9pLrZq8vX2mK9pLr"
GITLAB = "glpat-" + "Xy7Wv6Ut5Sr4Qp3On2Ml"
CHPASSWD = "Tr0ub4dor" + "Horse99"
USERADD = "Ub3rS3cret" + "Pw"
FLAG = "Adm1nPassw0rd" + "Flag"
MYSQL = "MyR00t" + "Pw77x"
DBPASS = "Hunter2" + "Hunter2"

#: every clear value that must never appear in any output
CLEAR = (GITHUB, AWS, SLACK, NPM, GITLAB, CHPASSWD, USERADD, FLAG, MYSQL, DBPASS)


def planted_image() -> ImageBuilder:
    image = ImageBuilder()
    image.config_extra = {
        "Env": ["PATH=/usr/bin", f"GITHUB_TOKEN={GITHUB}"],
        "Labels": {"com.example.deploy-token": SLACK},
        "Entrypoint": ["/app/run", f"--token={GITHUB}"],
        "Cmd": ["--aws-key", AWS],
    }
    image.add_layer({"etc/os-release": "ID=alpine\nVERSION_ID=3.19.0\n",
                     "app/config.env": f"AWS_ACCESS_KEY_ID={AWS}\n"},
                    created_by=f"RUN |3 NPM_TOKEN={NPM} CLONE={GITLAB} VERSION=1 /bin/sh -c "
                               f"echo root:{CHPASSWD} | chpasswd && useradd -m -p {USERADD} app # buildkit")
    image.add_layer({"app/run": "#!/bin/sh\nexec app\n"},
                    created_by=f"/bin/sh -c ./configure --admin-password {FLAG} && mysql -uroot -p{MYSQL} < init.sql")
    image.add_history(f"ENV GITHUB_TOKEN={GITHUB}")
    image.add_history(f"LABEL com.example.deploy-token={SLACK}")
    image.add_history(f"ARG DB_PASSWORD={DBPASS}")
    image.add_history(f'/bin/sh -c #(nop)  ENTRYPOINT ["/app/run" "--token={GITHUB}"]')
    return image
