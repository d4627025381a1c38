"""VAAL's variational autoencoder (Sinha et al., ICCV 2019; sinhasam/vaal model.py), for 32x32 input."""
import torch
import torch.nn as nn

from .normalize import NormalizedInput

# The original's CIFAR transform: Normalize(mean 0.5, std 0.5), so the VAE sees and reconstructs
# images in [-1, 1] (and the reconstruction loss is an MSE in that range).
VAAL_MEAN = (0.5, 0.5, 0.5)
VAAL_STD = (0.5, 0.5, 0.5)


def _down(cin, cout):
    return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def _up(cin, cout):
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class VAE(NormalizedInput):
    """x float (N, 3, 32, 32) in [0, 1] -> (reconstruction, z, mu, logvar), like the original's forward.

    Encoder: four conv4x4 stride 2 + BN + ReLU, 3 -> 128 -> 256 -> 512 -> 1024 (32 -> 2), flatten
    4096 -> Linear mu, Linear logvar (z_dim). Decoder: Linear z_dim -> 1024x4x4, three
    ConvTranspose4x4 stride 2 + BN + ReLU, 1024 -> 512 -> 256 -> 128 (4 -> 32), ConvTranspose1x1 128 -> 3
    with no output activation: the reconstruction is of the normalized image, `normalize(x)`.
    `width` is the first layer's channels (128 in the original; each layer doubles it); a smaller
    one only makes tests fast.
    """

    def __init__(self, z_dim: int = 32, width: int = 128):
        super().__init__(VAAL_MEAN, VAAL_STD)
        c = [width, 2 * width, 4 * width, 8 * width]
        self.z_dim = z_dim
        self.encoder = nn.Sequential(*_down(3, c[0]), *_down(c[0], c[1]), *_down(c[1], c[2]),
                                     *_down(c[2], c[3]), nn.Flatten())               # c3 x 2 x 2
        self.fc_mu = nn.Linear(c[3] * 2 * 2, z_dim)
        self.fc_logvar = nn.Linear(c[3] * 2 * 2, z_dim)
        self.decoder = nn.Sequential(nn.Linear(z_dim, c[3] * 4 * 4), nn.Unflatten(1, (c[3], 4, 4)),
                                     *_up(c[3], c[2]), *_up(c[2], c[1]), *_up(c[1], c[0]),
                                     nn.ConvTranspose2d(c[0], 3, 1))
        self._init_like_original()

    @torch.no_grad()
    def _init_like_original(self):
        # The original's weight_init: kaiming_normal (fan_in, gain sqrt 2) and zero bias on every
        # Conv2d and Linear inside its Sequentials: the encoder's convs and the decoder's first
        # Linear. Its loop skips fc_mu and fc_logvar (not iterable) and ConvTranspose2d is no
        # Conv2d, so those keep PyTorch's default init, as here. BatchNorm: weight 1, bias 0.
        for m in (*self.encoder, *self.decoder):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    m.bias.zero_()

    def encode(self, x):
        """(mu, logvar) of q(z | x); VAAL's discriminator reads mu."""
        h = self.encoder(self.normalize(x))
        return self.fc_mu(h), self.fc_logvar(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        # Always sampled, in train and eval mode alike, as the original's reparameterize; selection
        # never uses z, only mu (strategies/vaal.py).
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), z, mu, logvar
