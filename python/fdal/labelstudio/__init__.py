"""A Label Studio server as the campaign's labeling tool (`fdal cycle ... --label-studio-url`):
plain HTTP with the standard library, so nothing beyond the runtime package is needed.

    client.py            Client: the URL, the API token (LABEL_STUDIO_API_KEY), JSON requests, errors
    labeling_config.py   the project's labeling config from class names, and the names read back
    project.py           create, find and check a project, Local Storage for images, push tasks, export
    campaign.py          a campaign's rounds pushed to and pulled from its project (fdal cycle push/pull)
"""
from .client import (TOKEN_ENV, Client, LabelStudioAuthError, LabelStudioError, LabelStudioNotFound,
                     LabelStudioUnreachable)
from .labeling_config import CHOICES_NAME, IMAGE_FIELD, IMAGE_NAME, config_classes, labeling_config
from .project import (LOCAL_FILES_PREFIX, allow_local_folders, check_project_classes, create_project, export_tasks,
                      find_project, get_project, local_files_url, push_tasks)

__all__ = ["TOKEN_ENV", "Client", "LabelStudioAuthError", "LabelStudioError", "LabelStudioNotFound",
           "LabelStudioUnreachable", "CHOICES_NAME", "IMAGE_FIELD", "IMAGE_NAME", "config_classes", "labeling_config",
           "LOCAL_FILES_PREFIX", "allow_local_folders", "check_project_classes", "create_project", "export_tasks",
           "find_project", "get_project", "local_files_url", "push_tasks"]
