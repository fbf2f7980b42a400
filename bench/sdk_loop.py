#!/usr/bin/env python3
"""The baseline renewd is compared with: N `ShowPackageInfo` calls made by a loop over Huawei's
official Python SDK (huaweicloudsdkcodeartsartifact, AK/SK), one per project, against the
benchmark's stand-in. Its CPU is measured from outside by bench/scale.py.

Usage: sdk_loop.py ENDPOINT AK SK N
"""
import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcodeartsartifact.v2 import CodeArtsArtifactClient, ShowPackageInfoRequest

endpoint, ak, sk, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = (CodeArtsArtifactClient.new_builder()
          .with_credentials(BasicCredentials(ak, sk))
          .with_endpoints([endpoint])
          .build())
for i in range(n):
    response = client.show_package_info(ShowPackageInfoRequest(project_id=f"{i + 1:032x}"))
    if response.status != "success":
        raise SystemExit(f"unexpected answer: {response}")
print(n)
