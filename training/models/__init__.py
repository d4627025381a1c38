"""PyTorch models: students (Student = VGG11-lite, AlexNetLite), teachers, the decoder, the sampler,
and the auxiliary models of the LL4AL (LossNet) and VAAL (VAE, Discriminator) baselines."""
from .alexnet_lite import AlexNetLite
from .decoder import Decoder
from .discriminator import Discriminator
from .loss_net import LossNet
from .normalize import CIFAR10_MEAN, CIFAR10_STD, NormalizedInput
from .sampler import Sampler
from .student import Student
from .student_base import StudentBase
from .teacher import ARCHS as TEACHER_ARCHS, Teacher
from .vae import VAE

STUDENTS = {"vgg11lite": Student, "alexnetlite": AlexNetLite}


def make_student(name="vgg11lite", num_classes=10, **kwargs):
    """Build a student by name ("vgg11lite" or "alexnetlite")."""
    if name not in STUDENTS:
        raise ValueError(f"unknown student {name!r}; choose one of {sorted(STUDENTS)}")
    return STUDENTS[name](num_classes=num_classes, **kwargs)


__all__ = ["AlexNetLite", "CIFAR10_MEAN", "CIFAR10_STD", "Decoder", "Discriminator", "LossNet", "NormalizedInput",
           "STUDENTS", "Sampler", "Student", "StudentBase", "TEACHER_ARCHS", "Teacher", "VAE", "make_student"]
